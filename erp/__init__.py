"""The ERP side: a pyodbc reader, the mapping file, and the batched sync into the domain."""
