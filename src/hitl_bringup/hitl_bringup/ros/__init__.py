"""hitl_bringup's ROS-bound helpers (library modules outside nodes/ and ros/ never import rclpy)."""
