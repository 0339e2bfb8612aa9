"""stackyard components. Import submodules directly; provider SDKs load only when a stack uses them."""
