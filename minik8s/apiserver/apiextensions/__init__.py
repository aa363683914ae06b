"""apiextensions.k8s.io: CustomResourceDefinitions, which add resources to the API at runtime.

Modules:
    crd     validation of a CustomResourceDefinition, including the structural-schema rules

Taught in the reference page on custom resources.
"""
