"""Pure builders: model objects in, text out. No I/O and no Pulumi."""
