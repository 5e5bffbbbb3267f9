"""The staff console: server-rendered pages at ``/console/`` where named staff sign in, watch the
requests of their counters arrive, approve or refuse them, and answer for every decision."""
