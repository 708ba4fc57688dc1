#!/usr/bin/env python3
"""Checks the crate graph against the layering in docs/DESIGN.md ("Repository layout"):
which crate may depend on which, in normal (non-dev) dependencies. Run by scripts/test.sh.

Exits 1 and names each broken rule. Reads `cargo metadata` (the lockfile's resolution).
"""
import json
import subprocess
import sys

# (crate, must not depend on, directly only?, why)
RULES = [
    ("convene-devserver", "convene-room", False, "the server shares convene-rtc with the client, not the client itself"),
    ("convene-media", "livekit-protocol", False, "media knows no LiveKit"),
    ("convene-rtc", "livekit-protocol", False, "the peer-connection kit has no room logic"),
    ("convene-room", "convene-media", False, "the room client has no devices or codecs"),
    ("convene-room", "convene-call", False, "dependencies point down: call -> room"),
    ("convene-call", "webrtc", True, "the call sees no webrtc types (it goes through convene-room)"),
    ("convene-call", "rtc", True, "received media arrives as encoded frames from convene-room"),
    ("convene-call", "convene-devserver", False, "the call is a client"),
]

# Known exceptions, listed so that they stay visible (none today).
ALLOWED_FOR_NOW: set = set()


def main() -> int:
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    names = {package["id"]: package["name"] for package in meta["packages"]}
    normal = {}
    for node in meta["resolve"]["nodes"]:
        deps = set()
        for dep in node["deps"]:
            if any(kind["kind"] is None for kind in dep["dep_kinds"]):
                deps.add(dep["pkg"])
        normal[node["id"]] = deps
    by_name = {}
    for package_id, name in names.items():
        by_name.setdefault(name, []).append(package_id)

    def reaches(start: str, target: str, direct: bool) -> bool:
        seen, stack = set(), [start]
        while stack:
            node = stack.pop()
            for dep in normal.get(node, ()):
                if names[dep] == target:
                    return True
                if not direct and dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        return False

    broken = []
    for crate, forbidden, direct, why in RULES:
        for package_id in by_name.get(crate, []):
            if reaches(package_id, forbidden, direct):
                how = "directly" if direct else "(directly or not)"
                broken.append(f"{crate} depends {how} on {forbidden}: {why}")
    for crate, dep in sorted(ALLOWED_FOR_NOW):
        print(f"crate graph: allowed for now: {crate} -> {dep}")
    for line in broken:
        print(f"crate graph: {line}", file=sys.stderr)
    if broken:
        return 1
    print(f"crate graph: {len(RULES)} rules hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
