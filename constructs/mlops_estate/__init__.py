"""AWS CDK v2 constructs for a secure, multi-account Amazon SageMaker MLOps estate.

One domain per subpackage, imported one way (a lower layer never imports a higher one; import-linter checks it):
``core`` < ``security`` < ``network`` < ``events`` < the domains (``workspace``, ``features``, ``pipeline``,
``serving``, ``monitoring``, ``lifecycle``, ``governance``) < the estate glue (``config``, ``reference``,
``projects``, ``stacks``).
"""
