@echo off
chcp 65001 >nul
rem Cài chitieu watch thành dịch vụ Windows «chitieu-watch» bằng NSSM (https://nssm.cc).
rem Chạy bằng quyền quản trị, trên CHÍNH MÁY chứa thư mục dùng chung. Sửa bốn biến dưới đây.
set "NSSM=C:\chitieu\nssm\nssm.exe"
set "CHITIEU_APP=C:\chitieu\app"
set "CHITIEU_SHARE=D:\chitieu"
set "CHITIEU_KEY_FILE=C:\ProgramData\chitieu\secret.key"
set "SVC=chitieu-watch"
if not exist "C:\ProgramData\chitieu\dich_vu" mkdir "C:\ProgramData\chitieu\dich_vu"
"%NSSM%" install %SVC% "%CHITIEU_APP%\.venv\Scripts\python.exe" -m processors.cli watch "%CHITIEU_SHARE%"
"%NSSM%" set %SVC% AppDirectory "%CHITIEU_APP%"
"%NSSM%" set %SVC% AppEnvironmentExtra CHITIEU_KEY_FILE=%CHITIEU_KEY_FILE% PYTHONUTF8=1 PYTHONUNBUFFERED=1
"%NSSM%" set %SVC% DisplayName "chitieu - theo dõi thư mục dùng chung"
"%NSSM%" set %SVC% Description "Xử lý ngay từng báo cáo đơn vị nộp và trả phiếu phản hồi (chitieu watch)."
"%NSSM%" set %SVC% Start SERVICE_DELAYED_AUTO_START
rem Dừng: gửi Ctrl+C trước (chitieu làm xong lô đang dở, thoát mã 0), chờ tối đa 60 giây rồi mới buộc dừng.
"%NSSM%" set %SVC% AppStopMethodSkip 6
"%NSSM%" set %SVC% AppStopMethodConsole 60000
rem Thoát ngoài ý muốn: chạy lại sau 10 giây.
"%NSSM%" set %SVC% AppExit Default Restart
"%NSSM%" set %SVC% AppRestartDelay 10000
"%NSSM%" set %SVC% AppStdout "C:\ProgramData\chitieu\dich_vu\chitieu-watch.log"
"%NSSM%" set %SVC% AppStderr "C:\ProgramData\chitieu\dich_vu\chitieu-watch.log"
"%NSSM%" set %SVC% AppRotateFiles 1
"%NSSM%" set %SVC% AppRotateOnline 1
"%NSSM%" set %SVC% AppRotateBytes 10485760
"%NSSM%" start %SVC%
"%NSSM%" status %SVC%
