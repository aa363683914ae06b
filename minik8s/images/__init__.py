"""Container images without a container engine: built-in teaching images, a store, a builder, a registry.

* :mod:`minik8s.images.reference` reads names (``nginx`` -> ``docker.io/library/nginx:latest``);
* :mod:`minik8s.images.builtin` holds the images the ``process`` runtime can run out of the box;
* :mod:`minik8s.images.store` keeps images as content-addressed blobs named by tags;
* :mod:`minik8s.images.build` turns a Dockerfile (a subset) into an image;
* :mod:`minik8s.images.registry` is the local registry ``localhost:5000`` for push and pull.

``minik8s image build|ls|tag|push|pull|rm`` (:mod:`minik8s.imagecli`) drives them.
Taught in chapter 6 (building images).
"""
