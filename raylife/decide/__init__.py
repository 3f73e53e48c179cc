"""Deciding with stored results: which trials meet the user's limits (``choose``), which of them no other beats in
every metric named (the Pareto front), and whether a run got worse than another (``compare``). Pure functions over
rows the store returns; nothing here renders (``report/``) or runs SQL (``store/``)."""
