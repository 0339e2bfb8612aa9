"""stackyard: the whole production topology of a small company, from servers to secrets."""

from components.stack import main

main()
