"""The product: learn a store's category filing from its catalog and apply it to product names."""
