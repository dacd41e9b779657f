"""The estate app's deployment units: one module per account role, each a Stack that only composes constructs."""
