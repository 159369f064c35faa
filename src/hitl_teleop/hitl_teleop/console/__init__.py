"""Remote operator console (docs/console.md): a web page per operator over HTTP + WebSocket.

Pure Python (no rclpy): ``mapping`` (browser keyboard / Gamepad API -> the PS3 pad's Joy layout),
``session`` (one operator: who it may drive, its TeleopSamples), ``state`` (what the page shows),
``server`` (websockets HTTP + WebSocket, token check). The node is hitl_teleop.nodes.console_node.
"""
