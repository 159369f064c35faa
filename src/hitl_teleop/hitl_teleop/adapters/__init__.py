"""Real-arm adapters: pose targets + gripper in, each arm's own interface out (pure logic, no rclpy)."""
