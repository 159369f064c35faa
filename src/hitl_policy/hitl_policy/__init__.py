"""hitl_policy: policies that know when they do not know (library code: never imports rclpy)."""
