# -*- test-case-name: tests.test_public_api -*-
"""
Classes users receive but must not construct, as trio's NoPublicConstructor.

A Subscription only works as its connection's queue: one a user built would
never receive anything, silently. So calling such a class raises a TypeError
that says where to get one; txzpub builds them with ``Class._create(...)``.
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["NoPublicConstructor"]

T = TypeVar("T")


class NoPublicConstructor(type):
    """
    Metaclass: ``Class(...)`` raises TypeError; ``Class._create(...)`` constructs.

    A class sets ``_getOneFrom`` to say where users get instances.
    """

    _getOneFrom = "txzpub"

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        msg = (
            f"{cls.__module__}.{cls.__qualname__} cannot be constructed directly; "
            f"get one from {cls._getOneFrom}"
        )
        raise TypeError(msg)

    def _create(cls: type[T], *args: Any, **kwargs: Any) -> T:
        return super().__call__(*args, **kwargs)  # type: ignore[misc, no-any-return]
