"""Reading returned workbooks, validation, the ledger, receipts, the watcher and the CLI."""
