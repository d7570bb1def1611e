"""The ViT cut into components, and models assembled from them (Keras 3)."""
