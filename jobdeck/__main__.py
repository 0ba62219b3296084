from jobdeck.cli import main

main()
