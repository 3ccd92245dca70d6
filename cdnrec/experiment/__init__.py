"""`cdnrec experiment`: methods x seeds on one dataset, the paper's tables."""
