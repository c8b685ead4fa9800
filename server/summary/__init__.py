"""Candidate summaries: everything the candidates table shows, sorts, filters and counts
by, one row per invitation (outcome, each challenge's cell, headline metric, reviewers'
theory total, attempts, minutes used, decision, the candidate's number, and the stage and
end the state is derived from at request time).

Building every candidate's row in Python before sorting took about a second at 10,000
candidates, and the theory totals one query per row; with a summary row each, a table page
is a count and one limited query. A row is recomputed (by the same code that builds the
table's rows in Python, ``rows.build_rows``) whenever what it is made of changes,
in the same transaction:

- through the ORM (a submission, a grading, a decision, a theory answer or review, an
  invitation added, changed or deleted, an assessment's clock changed): a session listener
  notes the invitation, and the rows are refreshed just before the commit; deleting an
  invitation renumbers the later ones ("Candidate 7" is the 7th invitation still there);
- through SQL statements that bypass the ORM (a grading stored or given up on by
  ``server.leases`` and ``server.sweeper``): the writer calls :func:`changes.touch_submission`.

An assessment whose invitations have no summary yet (made before this table, or inserted
in bulk) gets them on its first table view (:func:`store.ensure`).

The package's rooms: ``rows`` builds a candidate's row from what it is made of, ``store``
writes the rows (and makes missing ones), ``page`` reads a sorted, filtered page of them in
SQL, ``table`` makes that page the candidates table a user sees, ``awaiting`` counts what
awaits each reviewer (the reviewer's home), ``listeners`` keeps the rows up to date (installed by whoever writes
through sessions: ``listeners.install()``), ``changes`` takes the notes of the writers
they cannot see. The state machine whose stage they store is ``server.stages``; the candidates' numbers
("Candidate 7") are blind review's, ``server.reviewing.numbers``.
"""
