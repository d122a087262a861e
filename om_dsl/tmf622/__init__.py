"""TMF622 Product Ordering: the official documents (schemas/) and what om
reads and writes in their shapes."""
