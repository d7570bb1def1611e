"""Where the system lives: storage backends, weight blobs and versioned manifests."""
