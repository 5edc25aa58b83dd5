"""A mask module that raises when imported, quoting a setting of its own (which must not be echoed)."""

raise RuntimeError("cannot reach the vault with token s3cr3t-vault-token")
