"""The example pipeline: the inter-firm hyperlink network mined from Common Crawl."""

from hydra_transforms.example.pipeline import registry

__all__ = ["registry"]
