"""The conversation's flows, one module per conversation, and the table that says which one answers.

* ``table``: every command (its keywords and buttons) and state, and the handler that answers it.
* ``turn``: the :class:`~bot.flows.turn.Turn` each handler gets (the message, the conversation row,
  the customer, the texts in their language) and the program rules.
* ``common``: the main menu, the answer to anything not understood, small shared helpers.
* ``onboarding``: first contact, the language, consent to updates and to offers, a referral code.
* ``balance``: points, tier, expiry and history.
* ``redemption``: the rewards catalog, picking, confirming, the voucher.
* ``referral``: a customer's code and link, JOIN, the affiliate program.
* ``account``: help, STOP and START, the language changed later.
* ``handoff``: talking to a person.
* ``privacy``: the member's rights: "my data", the full export, corrections, erasure.
* ``offers``: the member's yes or no to marketing, asked once at first contact and switchable any time.
* ``birthday``: the birthday told in chat, read and stored through the consents domain.
* ``payment``: points as payment at a till: the member's Confirm or Decline of a hold.

Handlers take a ``Turn`` and return the replies; they move the conversation with ``Turn.goto``.
Domain errors are turned into friendly answers in the flows, never shown as they are.
"""
