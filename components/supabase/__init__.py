"""Supabase project settings as Pulumi state: Management API settings, edge-function secrets and SQL."""
