"""Services and Endpoints (kubectl get services,endpoints -A -o json on stdin) -> a hosts file for
dnsmasq, the real node's stand-in for cluster DNS (CoreDNS is not packaged here):
  <svc>.<ns>.svc.cluster.local            the ClusterIP
  <svc>.<ns>.svc.cluster.local            every ready address, for a headless Service
  <hostname>.<svc>.<ns>.svc.cluster.local a headless Service's pod that has a hostname (StatefulSets)
"""
import json
import sys

DOMAIN = "cluster.local"
items = json.load(sys.stdin)["items"]
lines = []
headless = set()
for o in items:
    if o["kind"] != "Service":
        continue
    m, spec = o["metadata"], o["spec"]
    name = f'{m["name"]}.{m["namespace"]}.svc.{DOMAIN}'
    ip = spec.get("clusterIP")
    if ip and ip != "None":
        lines.append(f"{ip} {name}")
    elif ip == "None":
        headless.add((m["namespace"], m["name"]))
for o in items:
    if o["kind"] != "Endpoints":
        continue
    m = o["metadata"]
    if (m["namespace"], m["name"]) not in headless:
        continue
    svc = f'{m["name"]}.{m["namespace"]}.svc.{DOMAIN}'
    for subset in o.get("subsets") or []:
        for a in subset.get("addresses") or []:
            lines.append(f'{a["ip"]} {svc}')
            if a.get("hostname"):
                lines.append(f'{a["ip"]} {a["hostname"]}.{svc}')
print("\n".join(sorted(set(lines))))
