"""hitl_bringup"""
