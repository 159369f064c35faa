"""The only part of hitl_core that imports rclpy (inside functions: importing it needs no ROS)."""
