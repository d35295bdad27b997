-- Nothing to undo: the index is 000070's.
SELECT 1;
