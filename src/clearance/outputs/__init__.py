"""Everything a run writes: the output folder of product.md."""
