# Login shells (overlays/hardening): no core dumps; new files not readable by others,
# as login.defs sets for sessions that do not read this file.
ulimit -c 0
umask 027
