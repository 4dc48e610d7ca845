from cspsearch.cli import main

main()
