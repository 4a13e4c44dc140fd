"""Run a wave's emails side by side until each asks for the same step, do that step once.

Applying a wave (``mail.converter.batch``) runs Odoo's gateway for each email,
unchanged, and Odoo creates each email's message with its own ``create`` deep
inside ``message_post``. :func:`run_together` runs every email's work in a
greenlet of its own (greenlet is an Odoo requirement). When an email's work
reaches a step that can be done for many at once (:func:`meet`), it is suspended
there; when every email is suspended or done, the step is done once for all of
them (``gather``) and each email goes on with its own part of the answer.

Nothing runs concurrently: one thread, one cursor, each email running until it
meets the step or ends. Only the order changes (the emails of a wave are
independent: ``tools.waves``). Each greenlet has its own copy of the context
variables. An error in any email stops them all (each unwinds its own ``with``
blocks) and is raised to the caller. No Odoo import.
"""

import contextvars

import greenlet

_MEETING = contextvars.ContextVar("mail_converter_meeting", default=None)

# What ``gather`` answers a request it leaves waiting for a later round.
WAIT = object()


class Meeting:
    """The emails of one :func:`run_together`, as seen from inside one of them."""

    __slots__ = ("_hub",)

    def __init__(self, hub):
        self._hub = hub

    def meet(self, request):
        """Suspend this email's work until ``request`` is answered with the others'."""
        return self._hub.switch(request)


def current():
    """The :class:`Meeting` of the email whose work is running, or ``None`` outside one."""
    return _MEETING.get()


def _start(task):
    def run():
        _MEETING.set(Meeting(greenlet.getcurrent().parent))
        return task()

    worker = greenlet.greenlet(run)
    worker.gr_context = contextvars.copy_context()
    return worker


def run_together(tasks, gather):
    """Run the callables ``tasks`` until each ends; return their results, in order.

    A task calling ``current().meet(request)`` waits for the others: when each has
    ended or is waiting, ``gather(requests)`` answers the waiting ones at once (a
    list of answers in the order of ``requests``) and they go on. An answer
    :data:`WAIT` leaves its request waiting for the next round (so that requests of
    one kind are answered together once the others have caught up); at least one
    must be answered.
    """
    workers = [_start(task) for task in tasks]
    results = [None] * len(tasks)
    resume = dict.fromkeys(range(len(tasks)))  # index -> what it goes on with
    waiting = {}  # index -> its request
    try:
        while resume:
            for index, value in resume.items():
                worker = workers[index]
                asked = worker.switch(value) if worker else worker.switch()
                if worker.dead:
                    results[index] = asked
                else:
                    waiting[index] = asked
            resume = {}
            if waiting:
                answers = gather(list(waiting.values()))
                resume = {
                    index: answer
                    for index, answer in zip(list(waiting), answers, strict=True)
                    if answer is not WAIT
                }
                if not resume:
                    raise RuntimeError("Mail converter: every waiting email was left waiting")
                for index in resume:
                    del waiting[index]
    except BaseException:
        for worker in workers:
            if worker and not worker.dead:
                worker.throw(greenlet.GreenletExit)
        raise
    return results
