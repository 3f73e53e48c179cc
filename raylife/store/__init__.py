"""Results storage in DuckDB."""

from raylife.store.db import DEFAULT_DB, Store, check_results_file, new_run_id

__all__ = ["DEFAULT_DB", "Store", "check_results_file", "new_run_id"]
