"""The xlwings handlers behind the master workbook's buttons."""
