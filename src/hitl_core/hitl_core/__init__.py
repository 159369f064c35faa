"""hitl_core: what every other hitl package uses (library code; rclpy only in hitl_core.ros).

- ``control_source``: who commands the robot and why (the ControlState enums).
- ``data``: the episode dataset that demos, deployments and bags turn into.
- ``threshold``: the help threshold's one rule for "unset".
- ``bag_reader`` / ``bag_dataset``: rosbag2 MCAP recordings, read to their broken end, into episodes.
- ``ros.runtime``: every node's ``main`` (``--help`` without ROS, spin, clean shutdown).
- ``ros.testing``: the ROS test fixtures (a private ROS domain per graph).

It depends on no other hitl package (src/hitl_bringup/test/test_layering.py).
"""
