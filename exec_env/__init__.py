"""exec_env"""
