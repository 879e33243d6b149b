"""What every use-case folder may share besides the ports: paging, ids, auditing.

Use-case folders never import each other (an import-linter contract); what more than
one of them needs lives here or in ``application.ports``.
"""
