"""Who is asking, and may they? The API server's authentication and authorization.

Every request passes the same chain, as in kube-apiserver (see
:mod:`minik8s.apiserver.filters`): *authentication* turns a credential into a
user (:mod:`.authentication`), *authorization* decides whether that user may do
this verb on this resource or path (:mod:`.authorization`), reading what the
request means from its path alone (:mod:`.requestinfo`).

Taught in chapter 2 (architecture) and the access-control chapter.
"""
