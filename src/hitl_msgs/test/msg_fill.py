"""Fill any ROS 2 message with deterministic non-default values (every field, recursively).

Run as a script it is the *other process* of the round-trip test: it publishes every hitl_msgs
message type, and serves every hitl_msgs service checking that the request arrived intact.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from rosidl_parser import definition as d

_FLOATS = {"float", "double", "long double"}
_INTS = {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "short", "unsigned short",
         "long", "unsigned long", "long long", "unsigned long long"}


def _value(t: Any, i: int) -> Any:
    if isinstance(t, d.BasicType):
        name = t.typename
        if name == "boolean":
            return True
        if name in _FLOATS:
            return 1.5 + 0.25 * i  # exactly representable in float32
        if name in _INTS:
            return 3 + (i % 100)
        if name == "octet":
            return bytes([7 + i % 100])
        if name in ("char", "wchar"):
            return "x" if name == "wchar" else 65 + i % 26
        raise TypeError(f"unhandled basic type {name}")
    if isinstance(t, (d.UnboundedString, d.BoundedString, d.UnboundedWString, d.BoundedWString)):
        return f"v{i}"
    if isinstance(t, d.NamespacedType):
        module = importlib.import_module(".".join(t.namespaces))
        return fill(getattr(module, t.name)(), i)
    if isinstance(t, (d.UnboundedSequence, d.BoundedSequence)):
        return [_value(t.value_type, i + k) for k in range(3)]
    if isinstance(t, d.Array):
        return [_value(t.value_type, i + k) for k in range(t.size)]
    raise TypeError(f"unhandled type {t!r}")


def fill(msg: Any, seed: int = 0) -> Any:
    for k, (field, slot) in enumerate(zip(msg.get_fields_and_field_types(), msg.SLOT_TYPES)):
        setattr(msg, field, _value(slot, seed + 7 * k))
    return msg


def hitl_types(kind: str) -> list[type]:
    """All message ('msg') or service ('srv') classes of hitl_msgs."""
    package = importlib.import_module(f"hitl_msgs.{kind}")
    classes = [getattr(package, name) for name in dir(package) if not name.startswith("_")]
    classes = [c for c in classes if isinstance(c, type)]
    if kind == "srv":  # the package also exports each service's _Request/_Response/_Event classes
        classes = [c for c in classes if hasattr(c, "Request") and hasattr(c, "Response")]
    assert classes, f"no hitl_msgs.{kind} types found"
    return sorted(classes, key=lambda c: c.__name__)


def topic_for(cls: type) -> str:
    return f"/roundtrip/{cls.__name__}"


def serve(duration_s: float) -> None:
    import time

    import rclpy
    from rclpy.qos import QoSDurabilityPolicy, QoSProfile

    rclpy.init()
    node = rclpy.create_node("roundtrip_peer")
    qos = QoSProfile(depth=5, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
    pubs = [(node.create_publisher(c, topic_for(c), qos), c) for c in hitl_types("msg")]

    def make_handler(srv_type: type):
        def handle(request, response):
            fill(response, 11)
            # A request that arrived altered gets an untouched default response: the test sees it.
            return response if request == fill(srv_type.Request(), 5) else srv_type.Response()
        return handle

    services = [node.create_service(s, f"/roundtrip/{s.__name__}", make_handler(s)) for s in hitl_types("srv")]
    assert services
    for pub, cls in pubs:
        pub.publish(fill(cls(), 1))
    print("READY", flush=True)
    end = time.monotonic() + duration_s
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    serve(float(sys.argv[1]) if len(sys.argv) > 1 else 30.0)
