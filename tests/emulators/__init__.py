"""Offline stand-ins for the clouds: real wire protocols, spoken to the real SDKs.

Test infrastructure, also started by `make sandbox`: nothing in ``src/`` knows about them;
the project reaches them through the endpoints and clients its configuration gives.
"""
