#!/bin/bash
# Appliance status page of the WUI: version, addresses and service states.
set -u
escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }
echo "Content-Type: text/html; charset=utf-8"
echo
cat <<HTML
<!DOCTYPE html>
<html><head><title>Loadbalancer.org appliance</title></head><body>
<h1>Loadbalancer.org appliance</h1>
<h2>System overview</h2>
<table>
<tr><th>Version</th><td id="version">$(escape </etc/loadbalancer/version)</td></tr>
<tr><th>Hostname</th><td id="hostname">$(hostname | escape)</td></tr>
</table>
<h2>Network interfaces</h2>
<pre id="addresses">$(ip -brief address | escape)</pre>
<h2>Services</h2>
<table id="services">
HTML
for unit in haproxy stunnel4 pound ldirectord heartbeat ssh nftables; do
  state=$(systemctl is-active "$unit.service" 2>/dev/null)
  echo "<tr><th>$unit</th><td>${state:-unknown}</td></tr>"
done
echo "</table></body></html>"
