# No proxy routes to this service (a worker, or a port other services call directly).
served_color() { echo none; }
switch_to() { :; }
reload_proxy() { :; }
upstream_loaded() { :; }
load_marked_upstream() { :; }
