# -*- coding: utf-8 -*-
"""``Record``: an immutable tuple with named fields, what ``collections.namedtuple`` gives, made without it.

On Python 3.6, ``namedtuple`` (and ``typing.NamedTuple``) writes and compiles a class's source for each type:
about 2 to 4 million instructions apiece, paid by the function at every cold start. A ``Record`` subclass
names its fields in ``_fields``; each becomes a read-only attribute. Construction by position or keyword
(a missing or unknown field is a ``TypeError``), equality and hashing as tuples, ``_replace``, pickling (the
commands' worker processes) and the ``repr`` are those of a named tuple.
"""
from operator import itemgetter


class Record(tuple):
    __slots__ = ()
    _fields = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for index, name in enumerate(cls.__dict__.get("_fields", ())):
            setattr(cls, name, property(itemgetter(index), doc="field %d of %s" % (index, cls.__name__)))

    def __new__(cls, *args, **kwargs):
        fields = cls._fields
        if len(args) > len(fields):
            raise TypeError("%s takes %d fields, got %d" % (cls.__name__, len(fields), len(args)))
        values = list(args)
        for name in fields[len(args):]:
            if name not in kwargs:
                raise TypeError("%s: missing field %r" % (cls.__name__, name))
            values.append(kwargs.pop(name))
        if kwargs:
            raise TypeError("%s: no field %r" % (cls.__name__, sorted(kwargs)[0]))
        return tuple.__new__(cls, values)

    def __getnewargs__(self):
        return tuple(self)

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join("%s=%r" % pair for pair in zip(self._fields, self)))

    def _replace(self, **changes):
        return type(self)(**dict(zip(self._fields, self), **changes))
