"""Write a transformation once as an Ibis expression with Pandera contracts; run it anywhere."""
