"""The load clients and what their requests say: the closed loop (``loadgen``), the open-loop client on a schedule
(``open_loop``, over ``http_pool``), the one-off JSON client (``http_client``), requests built from held-out data and
their answers checked (``requests``), load profiles and traces (``profile``), and what a changing load or an update
did (``scaling``, ``updates``). Pure Python and numpy: no Ray, no framework."""
