"""hitl_sim"""
