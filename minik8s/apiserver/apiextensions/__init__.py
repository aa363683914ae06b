"""apiextensions.k8s.io: CustomResourceDefinitions, which add resources to the API at runtime.

One module per part of upstream's apiextensions-apiserver:

* ``crd``: validation of a CustomResourceDefinition, including the structural-schema rules;
* ``structural``: a custom object against its schema (pruning, defaulting, validation);
* ``cel``: the schema's ``x-kubernetes-validations`` rules (CEL);
* ``customresource``: the storage strategy of one served version (versions, status and scale subresources);
* ``handler``: the API server's CRD handler (accepts names, serves versions, cleans up on delete);
* ``tableconvertor``: ``additionalPrinterColumns``, the Table ``kubectl get`` prints.

Taught in the reference page on custom resources.
"""
