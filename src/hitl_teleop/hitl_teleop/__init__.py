"""hitl_teleop"""
