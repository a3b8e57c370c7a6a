"""Links to instance attributes that a class lists in its numpydoc ``Attributes`` section.

numpydoc renders a class's Attributes section as a list without link targets, so a method that
mentions ``:attr:`grads``` would be a broken reference, and ``-n`` fails the build on it. This
``missing-reference`` hook links such a reference to the class instead, so that nothing needs
``nitpick_ignore``.
"""

from __future__ import annotations

import inspect
import pydoc

from docutils import nodes
from numpydoc.docscrape import ClassDoc
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment


def listed_attribute(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.reference | None:
    """Link ``:attr:`name``` in a class's docstring to the class, if the class has ``name``.

    The class must list ``name`` in its Attributes section or declare it (a class-level
    attribute or annotation). A name it does neither for (a typo) stays unresolved, and
    still fails the build.
    """
    if node.get("refdomain") != "py" or node.get("reftype") != "attr" or not node.get("py:class"):
        return None
    class_name = f"{node.get('py:module')}.{node['py:class']}"
    cls = pydoc.locate(class_name)
    if not inspect.isclass(cls):
        return None
    name = node["reftarget"].rpartition(".")[2]
    listed = {param.name.strip() for param in ClassDoc(cls)["Attributes"]}
    # A class-level attribute (``unk_id: int = 1``) is as real, if not yet listed.
    declared = any(name in vars(k) or name in inspect.get_annotations(k) for k in cls.__mro__)
    if name not in listed and not declared:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, "class", class_name, node, contnode
    )


def setup(app: Sphinx) -> None:
    """Connect the hook."""
    app.connect("missing-reference", listed_attribute)
