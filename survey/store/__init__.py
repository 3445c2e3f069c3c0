"""The snapshot on disk: atomic Parquet parts, the manifest, the lock; reading back."""
